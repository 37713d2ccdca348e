# Shared by run-default.sh and test.sh: installing Debian packages.
# shellcheck shell=bash

# The package names in scripts/deps-NAME.txt.
deps() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$(dirname "${BASH_SOURCE[0]}")/deps-$1.txt"
}

# Install the packages that are not installed yet.  apt-get update runs
# only when something is missing, so that a second run is quick.
ensure_packages() {
	local missing=() p sudo=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	echo "==> installing ${missing[*]}"
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"
}
