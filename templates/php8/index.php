<?php
// Calls App\Handler's handle($data) once per request (classic watchdog): the request body
// arrives on stdin, what handle returns is written as the response.

$vendor = __DIR__ . '/function/vendor/autoload.php';
if (is_file($vendor)) {
    require $vendor;
}
// Without composer's autoloader, classes of the App namespace load from function/src/.
spl_autoload_register(function (string $class): void {
    $prefix = 'App\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/function/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

$stdin = file_get_contents('php://stdin');
$handler = new App\Handler();
$response = $handler->handle($stdin);
if ($response !== null) {
    echo $response;
}
