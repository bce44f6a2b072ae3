#!/bin/sh
echo "coverage is unavailable in the offline build (no remote_coverage_tools)" >&2
exit 1
