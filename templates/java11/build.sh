#!/bin/sh
# Compiles the model, the entrypoint and the handler (function/src/main/java) with this
# machine's javac into classes/; jars the handler keeps in function/libs/ go on the class path.
# Nothing is downloaded.
set -eu
rm -rf classes
mkdir -p classes
find model entrypoint function/src/main/java -name '*.java' > classes/sources.txt
cp="classes"
for jar in function/libs/*.jar; do
  [ -f "$jar" ] && cp="$cp:$jar"
done
javac -encoding UTF-8 -nowarn -d classes -cp "$cp" @classes/sources.txt
rm classes/sources.txt
printf '%s' "$cp" > classpath
# Resources beside the handler's classes (src/main/resources) are on the class path too.
if [ -d function/src/main/resources ]; then cp -R function/src/main/resources/. classes/; fi
