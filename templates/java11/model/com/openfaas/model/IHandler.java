package com.openfaas.model;

/** A function: one request in, one response out. */
public interface IHandler {
    IResponse Handle(IRequest request);
}
