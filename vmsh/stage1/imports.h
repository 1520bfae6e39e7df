/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel symbol stage1 may use, one STAGE1_IMPORT(name) a line (the
 * build's check and test_loader.c parse this list): the link of stage1.so
 * fails on any other undefined symbol, and the unit test checks that every
 * one is exported by each Debian kernel in the lab's cache. Their
 * prototypes are those of 5.15 (the first with _printk) to 6.12.
 */
STAGE1_IMPORT(_printk)
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
STAGE1_IMPORT(call_usermodehelper)
STAGE1_IMPORT(find_get_pid)
STAGE1_IMPORT(kill_pid)
STAGE1_IMPORT(put_pid)
