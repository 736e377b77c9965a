// A long-running server (of-watchdog http mode) that hands every request to
// function.Handle. It listens on 127.0.0.1:$PORT, which the platform sets for each replica.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"handler/function"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8082"
	}
	server := &http.Server{
		Addr:              "127.0.0.1:" + port,
		Handler:           http.HandlerFunc(function.Handle),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	log.Printf("golang-middleware listening on %s", server.Addr)
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
