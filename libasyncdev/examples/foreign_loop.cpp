// Driving an asyncdev::Loop from another event loop (here a plain poll(2)
// loop standing in for GLib, libuv, Qt, Asio ...) through native_handle().
//   usage: example_foreign_loop [path] [engine]
//     path    default /dev/asyncmem
//     engine  libaio | uring | posix (default posix): the backend, chosen at
//             run time through the IoEngine interface
// The outer loop owns the thread: it polls the Loop's epoll fd together
// with its own fds (a pipe here) and calls Loop::poll() when it is readable,
// which dispatches what is ready without waiting. It stops once the Loop
// has nothing pending (the idle check run_until_idle() uses: no request in
// flight, no armed Timer, no posted callback).
#include <asyncdev/asyncdev.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace {

std::unique_ptr<asyncdev::IoEngine> make_engine(asyncdev::Loop& loop, const std::string& kind)
{
    if (kind == "libaio")
        return std::make_unique<asyncdev::AioContext>(loop, 8);
    if (kind == "uring")
        return std::make_unique<asyncdev::Uring>(loop, 8);
    if (kind == "posix")
        return std::make_unique<asyncdev::PosixAio>(loop);
    throw std::invalid_argument("engine must be libaio, uring or posix: " + kind);
}

} // namespace

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : asyncdev::mem_path;
    const std::string kind = argc > 2 ? argv[2] : "posix";
    try {
        asyncdev::Loop loop;
        asyncdev::Device dev(path, O_RDWR | O_CREAT);
        std::unique_ptr<asyncdev::IoEngine> engine = make_engine(loop, kind);

        // The outer loop's own business: a pipe it reads itself.
        int p[2];
        if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
            throw std::system_error(errno, std::system_category(), "pipe2");
        asyncdev::UniqueFd rd(p[0]), wr(p[1]);

        const char msg[] = "written and read back through the foreign loop";
        std::vector<std::byte> in(sizeof msg);
        bool ok = true;
        engine->write(dev.fd(), std::as_bytes(std::span(msg)), 0, [&](ssize_t res) {
            std::printf("%s write: %zd\n", kind.c_str(), res);
            ok &= res == static_cast<ssize_t>(sizeof msg);
            // Chain the read from the write's completion.
            engine->read(dev.fd(), in, 0, [&](ssize_t r) {
                std::printf("%s read: %zd\n", kind.c_str(), r);
                ok &= r == static_cast<ssize_t>(sizeof msg) && std::memcmp(in.data(), msg, sizeof msg) == 0;
                (void)!::write(wr.get(), "done", 4); // tell the outer loop
            });
            engine->submit();
        });
        engine->submit();

        // A Timer of the Loop keeps it busy for a while too.
        int ticks = 0;
        asyncdev::Timer timer(loop, [&](std::uint64_t n) {
            ticks += static_cast<int>(n);
            std::printf("timer: %d\n", ticks);
        });
        timer.start(std::chrono::milliseconds(20));

        bool pipe_seen = false;
        for (;;) {
            pollfd fds[2] = {{loop.native_handle(), POLLIN, 0}, {rd.get(), POLLIN, 0}};
            if (::poll(fds, 2, 1000) < 0 && errno != EINTR)
                throw std::system_error(errno, std::system_category(), "poll");
            if (fds[0].revents & POLLIN)
                loop.poll(); // the Loop's callbacks run here, on this thread
            if (fds[1].revents & POLLIN) {
                char buf[8];
                while (::read(rd.get(), buf, sizeof buf) > 0) {
                }
                pipe_seen = true;
                std::printf("outer loop: pipe readable\n");
            }
            // Nothing pending in the Loop any more: the outer loop may stop.
            if (pipe_seen && !loop.pending())
                break;
        }
        ok &= ticks == 1;
        std::printf("%s\n", ok ? "foreign loop ok" : "FAILED");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
