// Package handler holds the request and response types of OpenFaaS's golang-http template
// (the same names and fields as github.com/openfaas/templates-sdk/go-http), so a handler
// written for OpenFaaS builds here unchanged and without downloading the module.
package handler

import (
	"context"
	"net/http"
)

// Response of function call
type Response struct {
	// Body the body will be written back
	Body []byte

	// StatusCode needs to be populated with value such as http.StatusOK
	StatusCode int

	// Header is optional and contains any additional headers the function response should set
	Header http.Header
}

// Request of function call
type Request struct {
	Body        []byte
	Header      http.Header
	QueryString string
	Method      string
	Host        string
	ctx         context.Context
}

// Context is set for the request; it is done when the caller goes away.
func (r Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// WithContext is a copy of the request with ctx as its context.
func (r Request) WithContext(ctx context.Context) Request {
	r.ctx = ctx
	return r
}

// FunctionHandler used for a serverless Go method invocation
type FunctionHandler interface {
	Handle(req Request) (Response, error)
}
