#!/usr/bin/env bash
# Validate the hand-written examples in schemas/examples against the XSDs with
# xmllint (libxml2), independently of our Rust parser, so that a mistake in a
# schema or an example is caught by a second implementation.
#
#   schemas/examples/*.xml          must validate
#   schemas/examples/invalid/*.xml  must fail validation, and fail for the
#                                   stated reason (see "expect-error" below)
#
# The schema is chosen by file name: declaratie-*.xml -> schemas/declaratie.xsd,
# retour-*.xml -> schemas/retour.xsd. Any other name is an error, so a new
# example can never be silently skipped.
#
# Every invalid example carries a comment
#   <!-- expect-error: SUBSTRING -->
# and SUBSTRING must occur in xmllint's output. Without it, an invalid example
# could "pass" because of an unrelated typo and stop testing what its name says.
# The substrings are libxml2 message texts; they have been stable for years,
# but if a libxml2 upgrade rewords them, update the markers, not the schemas.
#
# It also checks that the simple types copied from declaratie.xsd into
# retour.xsd (retour.xsd is self-contained on purpose) are still identical.
#
# Exit status: 0 when everything agrees, 1 on any disagreement, 2 when
# xmllint is missing. Needs xmllint: apt-get install libxml2-utils.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
schemas="$root/schemas"
examples="$schemas/examples"

if ! command -v xmllint >/dev/null 2>&1; then
    echo "xmllint-check: xmllint not found (apt-get install libxml2-utils)" >&2
    exit 2
fi

failures=0
checked=0

fail() {
    echo "FAIL  $*"
    failures=$((failures + 1))
}

# Print the schema for an example file, or nothing for an unknown prefix.
schema_for() {
    case "$(basename "$1")" in
        declaratie-*.xml) echo "$schemas/declaratie.xsd" ;;
        retour-*.xml) echo "$schemas/retour.xsd" ;;
        *) echo "" ;;
    esac
}

# Run xmllint; sets $out (all output) and $rc. --nonet: never fetch anything
# (xsi:schemaLocation is a hint only, we always pass the schema explicitly).
run_xmllint() {
    out="$(xmllint --noout --nonet --schema "$1" "$2" 2>&1)"
    rc=$?
}

shopt -s nullglob

valid_files=("$examples"/*.xml)
invalid_files=("$examples"/invalid/*.xml)
if [ ${#valid_files[@]} -eq 0 ] || [ ${#invalid_files[@]} -eq 0 ]; then
    fail "no examples found under $examples (expected *.xml and invalid/*.xml)"
fi

for f in "${valid_files[@]}"; do
    rel="${f#"$root"/}"
    xsd="$(schema_for "$f")"
    if [ -z "$xsd" ]; then
        fail "$rel: name must start with declaratie- or retour-"
        continue
    fi
    checked=$((checked + 1))
    run_xmllint "$xsd" "$f"
    if [ "$rc" -eq 0 ]; then
        echo "ok    $rel (valid)"
    else
        fail "$rel: expected valid, xmllint exit $rc:"
        printf '%s\n' "$out" | sed 's/^/      /'
    fi
done

for f in "${invalid_files[@]}"; do
    rel="${f#"$root"/}"
    xsd="$(schema_for "$f")"
    if [ -z "$xsd" ]; then
        fail "$rel: name must start with declaratie- or retour-"
        continue
    fi
    checked=$((checked + 1))
    expect="$(sed -n 's/^.*<!-- expect-error: \(.*\) -->.*$/\1/p' "$f" | head -n 1)"
    if [ -z "$expect" ]; then
        fail "$rel: no <!-- expect-error: ... --> comment"
        continue
    fi
    run_xmllint "$xsd" "$f"
    # Exit 3 is "validation error". Anything else (1 not well-formed, 5 schema
    # does not compile, ...) means the example does not test the schema.
    if [ "$rc" -ne 3 ]; then
        fail "$rel: expected a validation error (xmllint exit 3), got exit $rc:"
        printf '%s\n' "$out" | sed 's/^/      /'
    elif ! printf '%s\n' "$out" | grep -qF -- "$expect"; then
        fail "$rel: invalid, but not for the expected reason '$expect':"
        printf '%s\n' "$out" | sed 's/^/      /'
    else
        echo "ok    $rel (invalid: $expect)"
    fi
done

# The copied simple types must stay identical to their originals.
simple_type() {
    xmllint --xpath "/*[local-name()='schema']/*[local-name()='simpleType'][@name='$2']" "$1" 2>/dev/null
}
names="$(xmllint --xpath "/*[local-name()='schema']/*[local-name()='simpleType']/@name" \
    "$schemas/retour.xsd" 2>/dev/null | sed -n 's/.*name="\([^"]*\)".*/\1/p')"
if [ -z "$names" ]; then
    fail "schemas/retour.xsd: could not list its simple types"
fi
for name in $names; do
    original="$(simple_type "$schemas/declaratie.xsd" "$name")"
    [ -n "$original" ] || continue   # a type of the answer only
    checked=$((checked + 1))
    if [ "$original" = "$(simple_type "$schemas/retour.xsd" "$name")" ]; then
        echo "ok    simpleType $name is identical in declaratie.xsd and retour.xsd"
    else
        fail "simpleType $name differs between declaratie.xsd and retour.xsd"
    fi
done

echo "xmllint-check: $checked checks, $failures failures"
[ "$failures" -eq 0 ]
