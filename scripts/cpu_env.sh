# Sourced by the CPU scripts (train_cpu.sh, make_results.sh): one thread per process, and memory
# that stays in the process.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
# glibc hands freed tensor memory back to the kernel and faults it in again on the next step: on a
# 2-core CPU a training process spent 44 % of its time in the kernel (about 110,000 page faults a
# second; /proc/PID/stat).  With these it spends under 1 %, and an epoch of the default's `sisnr`
# stage took 627 s instead of 810 s (that one shared the CPU with a 3-minute evaluation).
export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824
