#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Rewrite the golden files in tests/fixtures after an intended renderer
# change. Review the diff before committing it.
set -eu
cd "$(dirname "$0")/.."
make -s build/tests/test_web
REGEN=1 SRCDIR=. build/tests/test_web
git --no-pager diff --stat -- tests/fixtures
