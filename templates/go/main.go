// Calls function.Handle once per request (classic watchdog): the request body arrives on
// stdin, what Handle returns is printed as the response.
package main

import (
	"fmt"
	"io"
	"log"
	"os"

	"handler/function"
)

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		log.Fatalf("unable to read standard input: %s", err)
	}
	fmt.Println(function.Handle(input))
}
