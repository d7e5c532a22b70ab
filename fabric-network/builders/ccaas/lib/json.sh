# shellcheck shell=sh
# JSON helpers shared by the ccaas builder's detect, build and release (POSIX sh, sourced).
#
# The peer runs its external builders with a pruned environment inside whatever image or host it runs on:
# Fabric's peer image has neither jq nor python3. So a field is read with jq if present, else python3,
# else a conservative sed match that handles what scripts/package-chaincode.sh writes (one flat object,
# string values without escaped quotes). CCAAS_JSON_PARSER=jq|python3|sed forces one (tests use it).

ccaas_log() {
  # The peer copies a builder's stderr into its own log, so say which builder and phase spoke.
  echo "reciprocal ccaas builder (${ccaas_phase:-?}): $*" >&2
}

ccaas_parser() {
  if [ -n "${CCAAS_JSON_PARSER:-}" ]; then
    echo "$CCAAS_JSON_PARSER"
  elif command -v jq >/dev/null 2>&1; then
    echo jq
  elif command -v python3 >/dev/null 2>&1; then
    echo python3
  else
    echo sed
  fi
}

# ccaas_json_valid FILE: exit 0 iff FILE holds one JSON object.
ccaas_json_valid() {
  case "$(ccaas_parser)" in
    jq) jq -e 'type == "object"' "$1" >/dev/null 2>&1 ;;
    python3)
      python3 -c 'import json,sys; sys.exit(0 if isinstance(json.load(open(sys.argv[1])), dict) else 1)' \
        "$1" 2>/dev/null
      ;;
    sed)
      # Without a parser: the whole text, whitespace removed, must be one {...} with at least one member.
      flat=$(tr -d ' \t\r\n' <"$1")
      case "$flat" in
        '{"'*'}') return 0 ;;
        *) return 1 ;;
      esac
      ;;
    *)
      ccaas_log "CCAAS_JSON_PARSER must be jq, python3 or sed, not '$CCAAS_JSON_PARSER'"
      return 2
      ;;
  esac
}

# ccaas_json_string FILE FIELD: prints the string value of top-level FIELD; non-zero exit when it is
# absent or not a string. The sed fallback reads values without backslash escapes only (enough for an
# address or a duration; use ccaas_json_nonempty for PEM text).
ccaas_json_string() {
  case "$(ccaas_parser)" in
    jq) jq -er --arg f "$2" '.[$f] | strings' "$1" 2>/dev/null ;;
    python3)
      python3 -c '
import json, sys
value = json.load(open(sys.argv[1])).get(sys.argv[2])
if not isinstance(value, str):
    sys.exit(1)
print(value)' "$1" "$2" 2>/dev/null
      ;;
    sed)
      value=$(tr '\r\n' '  ' <"$1" |
        sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\\([^\"\\\\]*\\)\".*/\\1/p")
      [ -n "$value" ] || grep -Eq "\"$2\"[[:space:]]*:[[:space:]]*\"\"" "$1" || return 1
      printf '%s\n' "$value"
      ;;
    *) return 2 ;;
  esac
}

# ccaas_json_nonempty FILE FIELD: exit 0 iff top-level FIELD is a non-empty string.
ccaas_json_nonempty() {
  case "$(ccaas_parser)" in
    jq) jq -e --arg f "$2" '.[$f] | strings | length > 0' "$1" >/dev/null 2>&1 ;;
    python3)
      python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); sys.exit(0 if isinstance(v,str) and v else 1)' \
        "$1" "$2" 2>/dev/null
      ;;
    sed) tr '\r\n' '  ' <"$1" | grep -Eq "\"$2\"[[:space:]]*:[[:space:]]*\"[^\"]" ;;
    *) return 2 ;;
  esac
}

# ccaas_json_true FILE FIELD: exit 0 iff top-level FIELD is the boolean true.
ccaas_json_true() {
  case "$(ccaas_parser)" in
    jq) jq -e --arg f "$2" '.[$f] == true' "$1" >/dev/null 2>&1 ;;
    python3)
      python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get(sys.argv[2]) is True else 1)' \
        "$1" "$2" 2>/dev/null
      ;;
    sed) tr '\r\n' '  ' <"$1" | grep -Eq "\"$2\"[[:space:]]*:[[:space:]]*true([^[:alnum:]_]|\$)" ;;
    *) return 2 ;;
  esac
}
