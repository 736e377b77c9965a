#!/bin/sh
# Compiles the handler (function/src/main/java) with this machine's javac into classes/,
# against the model and the entrypoint, which are compiled once and kept in the build cache
# ($FAAS_CACHE_DIR, keyed on their sources). Jars the handler keeps in function/libs/ go on
# the class path. Nothing is downloaded.
set -eu
# javac starts faster with the client compiler and the serial collector.
JAVAC="javac -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -encoding UTF-8 -nowarn"
cache=${FAAS_CACHE_DIR:-.}
key=$(find model entrypoint -name '*.java' | sort | xargs cat | cksum | tr ' ' '-')
base="$cache/java-base-$key"
if [ ! -d "$base" ]; then
  rm -rf "$base.tmp"
  mkdir -p "$base.tmp"
  # shellcheck disable=SC2046
  $JAVAC -d "$base.tmp" $(find model entrypoint -name '*.java')
  mv "$base.tmp" "$base"
fi
rm -rf classes
mkdir -p classes
cp -R "$base/." classes/
cp="classes"
for jar in function/libs/*.jar; do
  [ -f "$jar" ] && cp="$cp:$jar"
done
find function/src/main/java -name '*.java' > sources.txt
$JAVAC -d classes -cp "$cp" @sources.txt
rm sources.txt
printf '%s' "$cp" > classpath
# Resources beside the handler's classes (src/main/resources) are on the class path too.
if [ -d function/src/main/resources ]; then cp -R function/src/main/resources/. classes/; fi
