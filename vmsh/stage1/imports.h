/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel symbol stage1 may use, one STAGE1_IMPORT(name) a line (the
 * build's check and test_loader.c parse this list): the link of stage1.so
 * fails on any other undefined symbol, and the unit test checks that every
 * one is exported by each Debian kernel in the lab's cache.
 *
 * STAGE1_ALTERNATIVE(name, other): where the guest does not export name,
 * the loader links other in its place; it has the same prototype there.
 * The prototypes in stage1.c hold from 5.10 to 7.x.
 */
#ifndef STAGE1_ALTERNATIVE
#define STAGE1_ALTERNATIVE(name, other)
#endif
STAGE1_IMPORT(_printk)
STAGE1_ALTERNATIVE(_printk, printk) /* printk was renamed in 5.15 */
STAGE1_IMPORT(queue_work_on)
STAGE1_IMPORT(system_long_wq)
STAGE1_IMPORT(msleep)
STAGE1_IMPORT(__request_module)
STAGE1_IMPORT(acpi_register_gsi)
STAGE1_IMPORT(acpi_unregister_gsi)
STAGE1_IMPORT(platform_device_alloc)
STAGE1_IMPORT(platform_device_add_resources)
STAGE1_IMPORT(platform_device_add)
STAGE1_IMPORT(platform_device_put)
STAGE1_IMPORT(platform_device_unregister)
STAGE1_IMPORT(filp_open)
STAGE1_IMPORT(filp_close)
STAGE1_IMPORT(kernel_write)
STAGE1_IMPORT(kernel_read)
STAGE1_IMPORT(call_usermodehelper)
STAGE1_IMPORT(find_get_pid)
STAGE1_IMPORT(kill_pid)
STAGE1_IMPORT(put_pid)
STAGE1_IMPORT(ktime_get_mono_fast_ns)
/* memcpy: the worker's final store (entry.S); irq_work_queue: the entry's */
STAGE1_IMPORT(memcpy)
STAGE1_IMPORT(irq_work_queue)
