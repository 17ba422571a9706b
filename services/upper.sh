#!/bin/sh
# upper: a line-oriented filter that answers each line in upper case.
# sed -u reads and flushes line by line, so it works interactively over a
# socket. Not awk: Debian's default awk (mawk) reads its input in blocks and
# would answer nothing until the client closes (found under tests/system).
exec sed -u 's/.*/\U&/'
