# Helpers for the CGI endpoints (sourced).

reply() {
    printf 'Content-Type: text/plain\r\n\r\n%s\n' "$1"
    exit 0
}

fail() {
    printf 'Status: 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n%s\n' "$1"
    exit 0
}

# query NAME: the value of NAME in QUERY_STRING.
query() {
    echo "&$QUERY_STRING" | sed -n "s/.*&$1=\([^&]*\).*/\1/p"
}

# A lock between concurrent requests (busybox has no flock).
lock() {
    while ! mkdir /run/lock 2>/dev/null; do usleep 1000; done
}

unlock() {
    rmdir /run/lock
}
