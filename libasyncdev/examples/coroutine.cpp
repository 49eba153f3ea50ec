// Coroutines: the same write-then-read written as straight-line code,
// on any backend (they share the IoBackend concept); then reads run
// concurrently with when_all, a task spawned with co_spawn, and a read
// bounded by a timeout and cancellable through a std::stop_token.
//   usage: example_coroutine [path] [uring|aio|posix]   (default /dev/asyncmem)
#include <asyncdev/asyncdev.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stop_token>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;

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
asyncdev::Task<ssize_t> read_quarter(B& io, int fd, int i)
{
    std::vector<std::byte> buf(1024);
    co_return co_await asyncdev::async_read(io, fd, buf, static_cast<std::uint64_t>(i) * 1024);
}

/// Four reads at once; yields the total.
template <asyncdev::IoBackend B>
asyncdev::Task<ssize_t> four_at_once(B& io, int fd)
{
    auto [a, b, c, d] = co_await asyncdev::when_all(read_quarter(io, fd, 0), read_quarter(io, fd, 1),
                                                    read_quarter(io, fd, 2), read_quarter(io, fd, 3));
    co_return a + b + c + d;
}

/// A read on an empty pipe: ends by its timeout, unless `stop` comes first.
template <asyncdev::IoBackend B>
asyncdev::Task<ssize_t> bounded_read(asyncdev::Loop& loop, B& io, int fd, std::stop_token stop)
{
    std::byte b[16];
    co_return co_await asyncdev::async_read(loop, io, fd, b, 0, {std::move(stop), 20ms});
}

template <asyncdev::IoBackend B>
bool run(asyncdev::Loop& loop, B& io, int fd)
{
    if (!asyncdev::sync_wait(loop, round_trip(loop, io, fd)))
        return false;

    // Detached: the spawned task owns itself; the handler gets its result.
    // (Seekable files only: on a FIFO the four reads would wait for data.)
    bool spawned_done = ::lseek(fd, 0, SEEK_CUR) < 0;
    asyncdev::co_spawn(loop, four_at_once(io, fd), [&](std::exception_ptr e, ssize_t total) {
        if (!e)
            std::printf("when_all: 4 reads, %zd bytes\n", total);
        spawned_done = true;
    });
    while (!spawned_done)
        loop.run_once();

    // Only io_uring waits on an empty pipe asynchronously (libaio would
    // block in io_submit, glibc's AIO in a helper thread).
    if constexpr (std::is_same_v<B, asyncdev::Uring>) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) < 0)
            return false;
        const ssize_t r = asyncdev::sync_wait(loop, bounded_read(loop, io, p[0], std::stop_token{}));
        std::printf("read on an empty pipe with a 20 ms timeout: %s\n", std::strerror(static_cast<int>(-r)));
        std::stop_source src;
        src.request_stop();
        const ssize_t s = asyncdev::sync_wait(loop, bounded_read(loop, io, p[0], src.get_token()));
        std::printf("the same, stop requested: %s\n", std::strerror(static_cast<int>(-s)));
        ::close(p[0]);
        ::close(p[1]);
        if (r != -ETIMEDOUT || s != -ECANCELED)
            return false;
    }
    return true;
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
