/* lab/guest/boot.S: multiboot (v1) header and entry of the test guest.
 *
 * Owns: the first instructions after the loader (QEMU's -kernel multiboot
 * loader) jumps to us in 32-bit protected mode, paging off, flat segments,
 * EAX = 0x2BADB002 and EBX = physical address of the multiboot info. We only
 * set a stack and call guest_main(magic, mbi); it never returns. */

#define MB_MAGIC 0x1BADB002
/* bit 0: page-align modules (harmless), bit 1: we want mem_* and mmap info */
#define MB_FLAGS 0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .data
    .align 16
gdt:
    .quad 0                     /* null */
    .quad 0x00CF9A000000FFFF    /* 0x08 code: base 0, limit 4 GiB, 32-bit */
    .quad 0x00CF92000000FFFF    /* 0x10 data: base 0, limit 4 GiB */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

    .section .bss
    .align 16
stack_bottom:
    .skip 32768
stack_top:

    .section .text
    .global _start
    .type _start, @function
_start:
    cli                     /* we poll; only idle=hlt enables interrupts, around hlt */
    cld
    /* The multiboot spec leaves GDTR undefined: load our own flat GDT and
     * reload every segment register, so nothing depends on the loader. */
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  movw $0x10, %cx
    movw %cx, %ds
    movw %cx, %es
    movw %cx, %fs
    movw %cx, %gs
    movw %cx, %ss
    movl $stack_top, %esp
    pushl %ebx              /* multiboot info */
    pushl %eax              /* loader magic */
    call guest_main
1:  hlt
    jmp 1b

    /* idle=hlt's timer (guest.c, timer_init): IRQ 0 at vector 32. The
     * guest only sleeps in `sti; hlt; cli`, so nothing else runs under it:
     * end the interrupt at the master PIC and return. */
    .global irq0_entry
    .type irq0_entry, @function
irq0_entry:
    pushl %eax
    movb $0x20, %al
    outb %al, $0x20
    popl %eax
    iret

    .section .note.GNU-stack, "", @progbits
