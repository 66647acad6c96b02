#!/usr/bin/env bash
# System packages the test suite needs: a PostgreSQL server (the store suite runs on it),
# Chromium (the Studio's browser tests) and a Java runtime (the PMML reference tests convert models
# with sklearn2pmml and score them with JPMML-Evaluator, both JVM programs) and a Redis server (the
# stream jobs' Redis Streams tests start their own on a free loopback port; it is not run as a service);
# for the OCR and voice-activity tests and benchmark: DejaVu (Latin) and WenQuanYi Zen Hei (CJK) fonts to
# render text images, and espeak-ng to synthesise speech.
# Installs them with apt-get when they are missing and this user may; otherwise says what to do.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if [ ! -x /usr/bin/chromium ]; then
  need+=(chromium)   # the Studio's end-to-end tests drive it with Playwright
fi
if ! command -v java >/dev/null 2>&1; then
  need+=(default-jre-headless)   # sklearn2pmml and jpmml-evaluator run on it
fi
if ! command -v redis-server >/dev/null 2>&1; then
  need+=(redis-server)   # tests start their own redis-server; the package's service is not needed
fi
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  need+=(fonts-dejavu-core)   # Latin text rendered for the OCR tests and benchmark
fi
if [ ! -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then
  need+=(fonts-wqy-zenhei)    # Chinese text rendered for the OCR tests and benchmark
fi
if ! command -v espeak-ng >/dev/null 2>&1; then
  need+=(espeak-ng)           # speech synthesised for the voice-activity tests
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]} — install them (e.g. sudo apt-get install ${need[*]})" >&2
  exit 1
fi
