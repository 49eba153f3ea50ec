// SPDX-License-Identifier: MIT
// libasyncdev: everything in one include.
#pragma once

#include <asyncdev/aio_context.h>
#include <asyncdev/device.h>
#include <asyncdev/error.h>
#include <asyncdev/fd.h>
#include <asyncdev/function.h>
#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>
#include <asyncdev/posix_aio.h>
#include <asyncdev/signal_notifier.h>
#include <asyncdev/task.h>
#include <asyncdev/uring.h>
