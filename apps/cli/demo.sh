#!/usr/bin/env sh
# The CLI's main job, against the sandbox (in-process, no key, no network):
#   1. fetch the seed's example conversation;
#   2. fetch it again with the EU region down: the attempt trail (stderr) shows EU refusing the
#      connection and NA answering, and the document (stdout) is the same.
# Run from anywhere after building: sh apps/cli/demo.sh
set -eu
cli="node $(dirname "$0")/dist/convocore.mjs"

printf '\n$ convocore conversations get agent123 convo456 --sandbox --format pretty\n'
$cli conversations get agent123 convo456 --sandbox --format pretty

printf '\n$ CONVOCORE_SANDBOX_FAULT_EU=down convocore conversations get agent123 convo456 --sandbox --verbose\n'
CONVOCORE_SANDBOX_FAULT_EU=down $cli conversations get agent123 convo456 --sandbox --verbose 2>&1
