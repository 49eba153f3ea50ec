// Signal-driven I/O: O_ASYNC + F_SETSIG, delivered as ordinary callbacks.
// Writes a few messages to the node and reads them back when SIGIO-style
// notifications say it is readable.
//   usage: example_signal_driven [path]   (default /dev/asyncdev; a FIFO works)
#include <asyncdev/asyncdev.h>

#include <cstdio>
#include <string>

#include <poll.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : asyncdev::fifo_path;
    try {
        asyncdev::Loop loop;
        asyncdev::Device dev(path, O_RDWR | O_NONBLOCK);
        asyncdev::SignalNotifier notifier(loop);

        constexpr int messages = 5;
        std::size_t expected = 0, received = 0;
        notifier.add(dev.fd(), POLLIN, [&](short revents) {
            char buf[256];
            ssize_t n;
            while ((n = ::read(dev.fd(), buf, sizeof buf)) > 0)
                received += static_cast<std::size_t>(n);
            std::printf("signal: revents=%#x, %zu/%zu bytes\n", revents, received, expected);
            if (received >= expected && expected == messages * 8)
                loop.stop();
        });

        int sent = 0;
        asyncdev::Timer writer(loop, [&](std::uint64_t) {
            char msg[9];
            std::snprintf(msg, sizeof msg, "msg %4d", sent++);
            if (::write(dev.fd(), msg, 8) == 8)
                expected += 8;
            if (sent == messages)
                writer.stop();
        });
        writer.start(std::chrono::milliseconds(20), std::chrono::milliseconds(20));
        asyncdev::Timer timeout(loop, [&](std::uint64_t) { loop.stop(); });
        timeout.start(std::chrono::seconds(5));

        loop.run();
        std::printf("%zu of %zu bytes, %llu overflow rescans\n", received, expected,
                    static_cast<unsigned long long>(notifier.overflows()));
        return received == messages * 8 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
