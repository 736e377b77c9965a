def handle(event, context):
    """Answers every call with the request's body (an echo).

    event.body is bytes; event.headers, event.method, event.query and event.path describe
    the request. Return a dict with statusCode, body and optional headers.
    """
    return {
        "statusCode": 200,
        "body": event.body,
    }
