# shellcheck shell=bash
# Debian package dependencies of Conveyor. Source this file, then call `ensure_deps`.

CONVEYOR_DEB_PACKAGES=(
    build-essential cmake pkg-config
    libcaf-dev libpqxx-dev nlohmann-json3-dev librestinio-dev libasio-dev libfmt-dev
    libhttp-parser-dev libcurl4-openssl-dev libssl-dev catch2 libhowardhinnant-date-dev tzdata prometheus-cpp-dev
    postgresql-15 postgresql-client-15
    python3-aiosmtpd wrk curl ca-certificates
    clang libclang-rt-14-dev clang-format
)

# Only the tests need these (scripts/test adds them): the dashboard's browser tests (headless
# Chromium over WebDriver), the OpenAPI schema checks, a real Prometheus scrape and a real
# transaction-pooling PgBouncer (tests/scale/pooler_test.cpp).
CONVEYOR_TEST_DEB_PACKAGES=(
    chromium chromium-driver python3-selenium python3-jsonschema prometheus pgbouncer
)

# Prints the packages of CONVEYOR_DEB_PACKAGES that are not installed, one per line.
deps_missing() {
    local pkg status
    for pkg in "${CONVEYOR_DEB_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        if [[ "$status" != "install ok installed" ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Installs the missing Debian packages (as root); exits 1 with a clear message otherwise.
ensure_deps() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "ensure_deps: dpkg-query not found: Conveyor's scripts expect Debian 12" >&2
        exit 1
    fi
    local missing=()
    mapfile -t missing < <(deps_missing)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "ensure_deps: missing Debian packages: ${missing[*]}" >&2
        echo "ensure_deps: install them as root with:" >&2
        echo "    apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "ensure_deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    local apt_install=(apt-get install -y --no-install-recommends)
    if ! "${apt_install[@]}" "${missing[@]}"; then
        echo "ensure_deps: install failed, running apt-get update and retrying" >&2
        apt-get update
        "${apt_install[@]}" "${missing[@]}"
    fi
    mapfile -t missing < <(deps_missing)
    if ((${#missing[@]} != 0)); then
        echo "ensure_deps: still missing after apt-get install: ${missing[*]}" >&2
        exit 1
    fi
}
