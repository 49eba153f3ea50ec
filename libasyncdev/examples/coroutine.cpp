// Coroutines: the same write-then-read written as straight-line code,
// on any backend (they share the IoBackend concept).
//   usage: example_coroutine [path] [uring|aio|posix]   (default /dev/asyncmem)
#include <asyncdev/asyncdev.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

template <asyncdev::IoBackend B>
asyncdev::Task<bool> round_trip(asyncdev::Loop& loop, B& io, int fd)
{
    std::vector<std::byte> out(4096), in(4096);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::byte>(i * 3);

    ssize_t n = co_await asyncdev::async_write(io, fd, out, 0);
    std::printf("wrote %zd\n", n);
    co_await asyncdev::sleep_for(loop, std::chrono::milliseconds(10));
    n = co_await asyncdev::async_read(io, fd, in, 0);
    std::printf("read %zd\n", n);
    if (n < 0)
        throw std::system_error(asyncdev::result_error(n), "read");
    co_return in == out;
}

template <asyncdev::IoBackend B>
bool run(asyncdev::Loop& loop, B& io, int fd)
{
    return asyncdev::sync_wait(loop, round_trip(loop, io, fd));
}

} // namespace

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : asyncdev::mem_path;
    const std::string backend = argc > 2 ? argv[2] : "uring";
    try {
        asyncdev::Loop loop;
        asyncdev::Device dev(path, O_RDWR | O_CREAT);
        bool ok;
        if (backend == "aio") {
            asyncdev::AioContext io(loop);
            ok = run(loop, io, dev.fd());
        } else if (backend == "posix") {
            asyncdev::PosixAio io(loop);
            ok = run(loop, io, dev.fd());
        } else {
            asyncdev::Uring io(loop);
            ok = run(loop, io, dev.fd());
        }
        std::printf("%s\n", ok ? "round trip ok" : "MISMATCH");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
