#ifndef WATCHCACHE_CZLIB_SHIM_H
#define WATCHCACHE_CZLIB_SHIM_H
#include <zlib.h>

// deflateInit2 and inflateInit2 are macros, which Swift cannot call: these wrap them.

/// A deflate stream that writes the gzip format (RFC 1952) at `level`.
static inline int watchcache_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/// An inflate stream that reads the gzip format.
static inline int watchcache_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}

#endif
