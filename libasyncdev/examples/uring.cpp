// io_uring: a vectored write, then a batch of reads, then (seekable files)
// one read through a registered file into a registered buffer,
// completions through an eventfd into the loop.
//   usage: example_uring [path]   (default /dev/asyncmem)
// io_uring is asynchronous on every kind of file, pipes included.
#include <asyncdev/asyncdev.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include <unistd.h>

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : asyncdev::mem_path;
    try {
        asyncdev::Loop loop;
        asyncdev::Device dev(path, O_RDWR | O_CREAT);
        asyncdev::Uring aio(loop, /*depth=*/2); // small: shows the backlog

        std::vector<std::byte> out(8192), in(8192);
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<std::byte>(i * 13);
        const iovec iov[2] = {{out.data(), 4096}, {out.data() + 4096, 4096}};

        bool ok = true;
        aio.writev(dev.fd(), iov, 0, [&](ssize_t res) {
            std::printf("writev: %zd\n", res);
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
                std::printf("read %zu: %zd\n", p, r);
                ok &= r == static_cast<ssize_t>(len);
                if (--pending == 0)
                    loop.stop();
            });
        const std::size_t now = aio.submit();
        std::printf("submitted %zu now, %zu queued\n", now, aio.queued());
        loop.run();

        ok &= in == out;

        // Registered file and buffer: the kernel takes the file and pins
        // the buffer's pages once, not per request. (Not on the FIFO: the
        // reads above emptied it.)
        if (parts > 1) {
            using F = asyncdev::Uring::FixedFile;
            using B = asyncdev::Uring::FixedBuffer;
            std::vector<std::byte> reg(8192);
            const int fd = dev.fd();
            const iovec whole{reg.data(), reg.size()};
            aio.register_files(std::span(&fd, 1));
            aio.register_buffers(std::span(&whole, 1));
            aio.read(F{0}, B{0}, std::span(reg).subspan(4096), 4096, [&](ssize_t r) {
                std::printf("read_fixed: %zd\n", r);
                ok &= r == 4096;
                loop.stop();
            });
            aio.submit();
            loop.run();
            ok &= std::equal(reg.begin() + 4096, reg.end(), out.begin() + 4096);
        }
        std::printf("%s\n", ok ? "round trip ok" : "MISMATCH");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
