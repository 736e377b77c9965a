#!/bin/sh
# Starts the JVM on the classes and jars build.sh wrote; JAVA_OPTS adds options.
cd "$(dirname "$0")"
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 ${JAVA_OPTS:-} -cp "$(cat classpath)" com.openfaas.entrypoint.App
