package com.openfaas.model;

/** What a function's Handler extends, as in OpenFaaS's java11 template. */
public abstract class AbstractHandler implements IHandler {
    public abstract IResponse Handle(IRequest request);
}
