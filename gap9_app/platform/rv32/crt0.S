/* Bare-metal rv32 start-up for QEMU's virt machine (RAM at 0x80000000, -bios none): global pointer, stack,
 * trap vector, zeroed .bss, then main(); main's return value leaves through semihosting as QEMU's exit code. */
    .section .text.init, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    la      t0, tm_trap_entry
    csrw    mtvec, t0
#ifdef __riscv_flen
    li      t0, 0x2000          /* mstatus.FS = Initial: float instructions trap while the FPU is Off */
    csrs    mstatus, t0
#endif
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  li      a0, 0
    li      a1, 0
    call    main
    call    tm_semihost_exit
3:  j       3b

/* Any exception (illegal instruction, e.g. a float instruction with -cpu rv32,f=false; misaligned or bad
 * access; ebreak) lands here: print the cause and stop, instead of spinning forever. */
    .balign 16
    .globl tm_trap_entry
tm_trap_entry:
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    tm_trap
4:  j       4b

/* Semihosting call: a0 = operation, a1 = argument; result in a0. The three-instruction sequence must be
 * uncompressed and must not straddle a page, hence the alignment. */
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
