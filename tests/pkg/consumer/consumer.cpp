// SPDX-License-Identifier: MIT
// An out-of-tree user of the installed libasyncdev-dev: check-packages.sh
// builds it with pkg-config and with CMake's find_package(asyncdev), runs it
// on the host on a regular file, and in the guest on both asyncdev nodes.
//   usage: asyncdev-consumer PATH      (an existing file or node)
// GET_INFO (an asyncdev node) or ENOTTY (anything else), then an io_uring
// write and read back of 4096 bytes at offset 0 (any offset on the FIFO).
#include <asyncdev/asyncdev.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s PATH\n", argv[0]);
        return 2;
    }
    try {
        asyncdev::Loop loop;
        // No O_CREAT: Device::open passes no mode (the file must exist).
        asyncdev::Device dev(argv[1], O_RDWR | O_CLOEXEC);
        asyncdev::Uring ring(loop, 4);

        std::error_code ec;
        const asyncdev::Info info = dev.info(ec);
        if (!ec)
            std::printf("GET_INFO: abi_version %u, %s, capacity %llu\n", info.abi_version,
                        info.node == asyncdev::NodeKind::fifo ? "fifo" : "mem",
                        static_cast<unsigned long long>(info.capacity));
        else if (ec == std::errc::inappropriate_io_control_operation)
            std::printf("GET_INFO: ENOTTY (not an asyncdev node)\n");
        else
            throw std::system_error(ec, "ioctl(ASYNCDEV_IOC_GET_INFO)");

        std::vector<std::byte> out(4096), in(4096);
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<std::byte>(i * 7 + 1);
        ssize_t wrote = -1, got = -1;
        ring.write(dev.fd(), out, 0, [&](ssize_t r) { wrote = r; loop.stop(); });
        ring.submit();
        loop.run();
        ring.read(dev.fd(), in, 0, [&](ssize_t r) { got = r; loop.stop(); });
        ring.submit();
        loop.run();
        const bool ok = wrote == 4096 && got == 4096 && in == out;
        std::printf("io_uring round trip: wrote %zd, read %zd, %s\n", wrote, got,
                    ok ? "data ok" : "MISMATCH");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asyncdev-consumer: %s\n", e.what());
        return 1;
    }
}
