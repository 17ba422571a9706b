#!/bin/sh
# http-hello: a minimal HTTP/1.0 responder, to wrap as a network service.
# Reads the request line and headers, then answers with a small page that
# shows what yinetd told it about the client (REMOTE_ADDR, YINETD_SERVICE).
set -u

read -r method path version || exit 0
# Headers end at an empty line (CR LF): skip them.
while IFS= read -r header; do
  case "$header" in
    "" | "$(printf '\r')") break ;;
  esac
done

path=${path:-/}
case "$method" in
  GET | HEAD) status="200 OK" ;;
  *) status="405 Method Not Allowed" ;;
esac

body="<!doctype html>
<title>yinetd</title>
<h1>Hello from ${YINETD_SERVICE:-yinetd}</h1>
<p>You asked for <code>$(printf '%s' "$path" | sed 's/[<>&]/_/g')</code> from ${REMOTE_ADDR:-unknown} port ${REMOTE_PORT:-?}.</p>
"
length=$(printf '%s' "$body" | wc -c)

printf 'HTTP/1.0 %s\r\n' "$status"
printf 'Content-Type: text/html; charset=utf-8\r\n'
printf 'Content-Length: %s\r\n' "$length"
printf 'Connection: close\r\n\r\n'
[ "$method" = HEAD ] || printf '%s' "$body"
echo "served $method $path to ${REMOTE_ADDR:-unknown}" >&2
