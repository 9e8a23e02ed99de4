#ifndef WATCHCACHE_CNGHTTP2_SHIM_H
#define WATCHCACHE_CNGHTTP2_SHIM_H
// libnghttp2's public API (Debian 12 ships 1.52: the ssize_t-based mem_recv/mem_send API).
#include <nghttp2/nghttp2.h>
#endif
