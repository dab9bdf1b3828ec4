/* Bare-metal start-up for a PULP SoC (GVSoC pulp-open): the fabric controller (FC) starts at the ELF entry;
 * the 8 cluster cores start here too once the FC writes their boot address (tm_platform_pulp_open.c), and are
 * told apart by mhartid = cluster_id << 5 | core_id (the FC has cluster id 31).
 * FC: global pointer, stack at the top of L2, zeroed .bss, main(). Cluster core i: stack i in TCDM, then
 * tm_pulp_cluster_main(i), which never returns. */
    .section .text.init, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      t0, tm_trap_entry
    csrw    mtvec, t0
    csrr    t0, mhartid
    srli    t1, t0, 5
    li      t2, 31
    bne     t1, t2, cluster_core

    la      sp, __fc_stack_top
    li      t0, 0x1A108800      /* FC instruction cache on: without it every fetch pays the L2 latency */
    li      t1, -1
    sw      t1, 0(t0)
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  li      a0, 0
    li      a1, 0
    call    main
    call    pmsis_exit
3:  j       3b

/* Core i's stack: core 0 (the one running the network's orchestration) gets __cl_master_stack bytes at the top
 * of TCDM, workers __cl_worker_stack bytes each below it. */
cluster_core:
    andi    a0, t0, 31
    la      sp, __cl_stack_top
    beqz    a0, 5f
    la      t1, __cl_master_stack
    sub     sp, sp, t1
    addi    t2, a0, -1
    la      t1, __cl_worker_stack
    mul     t1, t1, t2
    sub     sp, sp, t1
5:  call    tm_pulp_cluster_main
6:  wfi
    j       6b

/* Any exception: print the cause (libc_min.c's tm_trap) and stop, instead of spinning silently. */
    .balign 256
    .globl tm_trap_entry
tm_trap_entry:
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    tm_trap
7:  j       7b

/* GVSoC semihosting: a0 = operation, a1 = argument; the three-instruction marker must stay uncompressed. */
    .balign 16
    .globl tm_semihost_call
tm_semihost_call:
    .option push
    .option norvc
    slli    zero, zero, 0x1f
    ebreak
    srai    zero, zero, 7
    .option pop
    ret
