// POSIX AIO (aiocb): a write, then a batch of reads (one submit(), one
// aio_read each, so that each request succeeds or fails on its own), with
// completions routed into the loop by a real-time signal or (argument
// "thread") by SIGEV_THREAD + Loop::post.
//   usage: example_posix_aio [path] [signal|thread]   (default /dev/asyncmem)
#include <asyncdev/asyncdev.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

#include <unistd.h>

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : asyncdev::mem_path;
    const bool thread = argc > 2 && std::strcmp(argv[2], "thread") == 0;
    try {
        asyncdev::Loop loop;
        asyncdev::Device dev(path, O_RDWR | O_CREAT);
        asyncdev::PosixAio aio(loop, thread ? asyncdev::PosixAio::Notify::thread
                                            : asyncdev::PosixAio::Notify::signal);

        std::vector<std::byte> out(4096), in(4096);
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<std::byte>(i * 7);

        // A stream (FIFO) has no offsets: read it back with one request.
        const std::size_t parts = ::lseek(dev.fd(), 0, SEEK_CUR) < 0 ? 1 : 4;
        const std::size_t part_len = in.size() / parts;
        int pending = 1;
        bool ok = true;
        aio.write(dev.fd(), out, 0, [&](ssize_t res) {
            std::printf("write: %zd\n", res);
            ok &= res == static_cast<ssize_t>(out.size());
            // Read it back in pieces: one submit() for all of them.
            for (std::size_t part = 0; part < parts; ++part) {
                ++pending;
                std::span<std::byte> piece(in.data() + part * part_len, part_len);
                aio.read(dev.fd(), piece, part * part_len, [&, part](ssize_t r) {
                    std::printf("read %zu: %zd\n", part, r);
                    ok &= r == static_cast<ssize_t>(part_len);
                    if (--pending == 0)
                        loop.stop();
                });
            }
            aio.submit();
            --pending;
        });
        aio.submit();
        loop.run();
        ok &= in == out;
        std::printf("%s\n", ok ? "round trip ok" : "MISMATCH");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
