// SPDX-License-Identifier: MIT
// asyncdev-bench: writing the pattern to /dev/asyncmem.
#include "device.h"

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace bench {

void write_image(asyncdev::Device& mem, const Image& im, const char* path)
{
    std::size_t off = 0;
    while (off < im.bytes.size()) {
        const ssize_t w = ::pwrite(mem.fd(), im.bytes.data() + off, im.bytes.size() - off,
                                   static_cast<off_t>(off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("write %s: %s", path, w < 0 ? std::strerror(errno) : "short write");
        off += static_cast<std::size_t>(w);
    }
}

} // namespace bench
