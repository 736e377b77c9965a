// A long-running server (of-watchdog http mode) that turns every request into a
// handler.Request, calls function.Handle and writes its handler.Response back. It listens on
// 127.0.0.1:$PORT, which the platform sets for each replica.
package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"handler/function"

	handler "github.com/openfaas/templates-sdk/go-http"
)

func serve(w http.ResponseWriter, r *http.Request) {
	var input []byte
	if r.Body != nil {
		defer r.Body.Close()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		input = body
	}
	req := handler.Request{
		Body:        input,
		Header:      r.Header,
		Method:      r.Method,
		QueryString: r.URL.RawQuery,
		Host:        r.Host,
	}.WithContext(r.Context())

	result, err := function.Handle(req)
	if err != nil {
		log.Print(err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for name, values := range result.Header {
		for _, value := range values {
			w.Header().Add(name, value)
		}
	}
	status := result.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(result.Body)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8082"
	}
	server := &http.Server{
		Addr:              "127.0.0.1:" + port,
		Handler:           http.HandlerFunc(serve),
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
	log.Printf("golang-http listening on %s", server.Addr)
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
