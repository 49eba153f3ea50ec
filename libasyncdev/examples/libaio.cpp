// Native Linux AIO (io_submit): a vectored write, then a batch of reads,
// completions through an eventfd into the loop.
//   usage: example_libaio [path]   (default /dev/asyncmem)
// Note: on buffered files and pipes io_submit works synchronously; on the
// asyncdev nodes (and O_DIRECT files) it is truly asynchronous.
#include <asyncdev/asyncdev.h>

#include <cstdio>
#include <vector>

#include <unistd.h>

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : asyncdev::mem_path;
    try {
        asyncdev::Loop loop;
        asyncdev::Device dev(path, O_RDWR | O_CREAT);
        asyncdev::AioContext aio(loop, /*depth=*/2); // small: shows the backlog

        std::vector<std::byte> out(8192), in(8192);
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<std::byte>(i * 13);
        const iovec iov[2] = {{out.data(), 4096}, {out.data() + 4096, 4096}};

        bool ok = true;
        aio.writev(dev.fd(), iov, 0, [&](ssize_t res) {
            std::printf("pwritev: %zd\n", res);
            ok &= res == 8192;
            loop.stop();
        });
        aio.submit();
        loop.run();

        // Four reads, depth 2: two wait in the userspace backlog.
        const std::size_t parts = ::lseek(dev.fd(), 0, SEEK_CUR) < 0 ? 1 : 4;
        const std::size_t len = in.size() / parts;
        std::size_t pending = parts;
        for (std::size_t p = 0; p < parts; ++p)
            aio.read(dev.fd(), std::span(in).subspan(p * len, len), p * len, [&, p](ssize_t r) {
                std::printf("pread %zu: %zd\n", p, r);
                ok &= r == static_cast<ssize_t>(len);
                if (--pending == 0)
                    loop.stop();
            });
        const std::size_t now = aio.submit();
        std::printf("submitted %zu now, %zu queued\n", now, aio.queued());
        loop.run();

        ok &= in == out;
        std::printf("%s\n", ok ? "round trip ok" : "MISMATCH");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
