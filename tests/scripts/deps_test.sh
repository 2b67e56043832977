#!/usr/bin/env bash
# scripts/deps.sh with apt-get, dpkg-query, systemctl and sudo replaced by
# stubs that record what they were asked: `build` installs no test peer,
# `test` installs them while a policy-rc.d forbids service starts, that
# policy-rc.d is gone afterwards (an existing one is left alone), and no
# service is ever stopped or started.
set -euo pipefail
deps=${1:?usage: deps_test.sh path/to/scripts/deps.sh}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
log=$work/log
export KONSEKI_POLICY_RC_D=$work/policy-rc.d

cat >"$work/bin/dpkg-query" <<'STUB'
#!/bin/sh
exit 1
STUB
cat >"$work/bin/apt-get" <<STUB
#!/bin/sh
echo "apt-get \$*" >>"$log"
if [ "\$1" = install ]; then
  "$KONSEKI_POLICY_RC_D" rsyslog start
  echo "policy-rc.d exit \$?" >>"$log"
fi
exit 0
STUB
cat >"$work/bin/systemctl" <<STUB
#!/bin/sh
echo "systemctl \$*" >>"$log"
exit 0
STUB
cat >"$work/bin/sudo" <<'STUB'
#!/bin/sh
exec "$@"
STUB
chmod +x "$work"/bin/*
export PATH="$work/bin:$PATH"

fail=0
check() {  # description, command...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what" >&2; fail=1; fi
}

: >"$log"
bash "$deps" build 2>/dev/null
check "build installs the libraries" grep -q "install .*libhyperscan-dev" "$log"
check "build installs no test peer" bash -c "! grep -Eq 'install .*(rsyslog|prometheus)' '$log'"

: >"$log"
bash "$deps" test 2>/dev/null
check "test installs rsyslog and prometheus" grep -Eq "install .*rsyslog .*prometheus" "$log"
check "service starts are forbidden while apt installs" grep -q "policy-rc.d exit 101" "$log"
check "the temporary policy-rc.d is removed" test ! -e "$KONSEKI_POLICY_RC_D"
check "no systemctl call" bash -c "! grep -q systemctl '$log'"

printf '#!/bin/sh\nexit 0\n' >"$KONSEKI_POLICY_RC_D"
chmod +x "$KONSEKI_POLICY_RC_D"
: >"$log"
bash "$deps" test 2>/dev/null
check "an existing policy-rc.d is kept as it was" grep -q "exit 0" "$KONSEKI_POLICY_RC_D"
check "an existing policy-rc.d is used" grep -q "policy-rc.d exit 0" "$log"
exit $fail
