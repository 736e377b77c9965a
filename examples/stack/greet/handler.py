import os


def handle(event, context):
    """Greets the name in the body, with a suffix read from a secret."""
    name = event.body.decode("utf-8").strip() or "world"
    suffix = ""
    secrets = os.getenv("secret_mount_path", "/var/openfaas/secrets")
    try:
        with open(os.path.join(secrets, os.getenv("punctuation_file", "greeting-suffix"))) as f:
            suffix = f.read().strip()
    except OSError:
        pass
    return {
        "statusCode": 200,
        "body": "%s, %s%s\n" % (os.getenv("greeting", "Hello"), name, suffix),
    }
