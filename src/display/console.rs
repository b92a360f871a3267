//! The Linux console under the framebuffer: the booth takes a virtual terminal of its own and
//! puts it in graphics mode while it draws on `/dev/fbN`.
//!
//! The kernel's framebuffer console (fbcon) draws the foreground VT's text on the same
//! framebuffer the booth draws on: on a booth that boots to a login prompt on tty1 (the Pi's
//! default), the prompt's blinking cursor and every kernel message of level error or worse
//! (a stick pulled out: "I/O error, dev sda") land on top of the booth's screen and stay until
//! the booth redraws — on the service screen, never — and console blanking (`consoleblank=`)
//! turns the whole screen off. In graphics mode (KDSETMODE KD_GRAPHICS, what X servers and
//! Wayland compositors do) fbcon draws nothing and does not blank.
//!
//! The VT is the booth's standard input: the unit sets `StandardInput=file:/dev/tty7` (systemd
//! opens it before dropping privileges; tty7 has no getty, logind starts them on tty1–6), and
//! the booth makes it its controlling terminal (TIOCSCTTY: it is a session leader without one),
//! which is what the kernel asks for before it accepts KDSETMODE and VT_ACTIVATE from an
//! unprivileged process (else CAP_SYS_TTY_CONFIG). Not `StandardInput=tty`: systemd would then
//! also hand the terminal to `ExecReload=` (and with `TTYVHangup=` hang it up: a second SIGHUP;
//! with `TTYReset=` back to text mode on every reload). Started from a shell (standard input a
//! pseudo-terminal or a file), the booth leaves the console alone. Held for the whole process
//! (reloads included); on exit the VT goes back to text mode and the previously active VT comes
//! back to the front. Killed instead, the booth leaves it in graphics mode until it runs again.

use std::os::fd::RawFd;

const KDSETMODE: libc::c_ulong = 0x4B3A;
const KDGETMODE: libc::c_ulong = 0x4B3B;
const KD_TEXT: libc::c_ulong = 0x00;
const KD_GRAPHICS: libc::c_ulong = 0x01;
const VT_GETSTATE: libc::c_ulong = 0x5603;
const VT_ACTIVATE: libc::c_ulong = 0x5606;
const TIOCSCTTY: libc::c_ulong = 0x540E;
/// Major device number of the virtual terminals /dev/tty0../dev/tty63.
const TTY_MAJOR: u32 = 4;

/// `struct vt_stat` from <linux/vt.h>.
#[repr(C)]
#[derive(Default)]
struct VtStat {
    v_active: u16,
    v_signal: u16,
    v_state: u16,
}

/// The booth's VT in graphics mode and in front, for as long as this lives.
pub struct VtGraphics {
    fd: RawFd,
    vt: u32,
    previous: u16,
}

impl VtGraphics {
    /// When standard input is a virtual terminal (/dev/ttyN, N ≥ 1): brings it to the front and
    /// puts it in graphics mode. `None` (and nothing changed) otherwise, or when the kernel
    /// refuses (the reason is logged; the booth draws all the same).
    pub fn take() -> Option<VtGraphics> {
        let fd: RawFd = 0;
        let mut mode: libc::c_int = 0;
        // SAFETY: KDGETMODE writes one int; the pointer is valid for the call. On anything that
        // is not a VT it fails with ENOTTY/EINVAL and writes nothing.
        if unsafe { libc::ioctl(fd, KDGETMODE as _, &mut mode as *mut libc::c_int) } != 0 {
            return None;
        }
        // SAFETY: all-zero is a valid `stat`; fstat fills it for a valid fd.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(fd, &mut st) } != 0 || libc::major(st.st_rdev) != TTY_MAJOR || libc::minor(st.st_rdev) == 0 {
            return None;
        }
        let vt = libc::minor(st.st_rdev);
        // SAFETY: TIOCSCTTY takes an int flag (0: do not steal), no pointer. It succeeds when
        // the VT is already our controlling terminal, or becomes it.
        if unsafe { libc::ioctl(fd, TIOCSCTTY as _, 0 as libc::c_ulong) } != 0 {
            log::warn!(
                "display: console: tty{vt} cannot be made the controlling terminal ({}); the console may draw over the screen",
                std::io::Error::last_os_error()
            );
            return None;
        }
        let mut state = VtStat::default();
        // SAFETY: VT_GETSTATE fills a struct vt_stat, which VtStat mirrors (repr(C)).
        let previous = if unsafe { libc::ioctl(fd, VT_GETSTATE as _, &mut state as *mut VtStat) } == 0 { state.v_active } else { 0 };
        if previous != 0 && u32::from(previous) != vt {
            // SAFETY: VT_ACTIVATE takes the VT number as its argument, no pointer.
            if unsafe { libc::ioctl(fd, VT_ACTIVATE as _, vt as libc::c_ulong) } != 0 {
                log::warn!("display: console: cannot bring tty{vt} to the front: {}", std::io::Error::last_os_error());
            }
        }
        // SAFETY: KDSETMODE takes the mode as its argument, no pointer.
        if unsafe { libc::ioctl(fd, KDSETMODE as _, KD_GRAPHICS) } != 0 {
            log::warn!("display: console: tty{vt} stays in text mode: {}", std::io::Error::last_os_error());
            return None;
        }
        log::info!("display: console tty{vt} in front and in graphics mode (was tty{previous}): no console text on the screen");
        Some(VtGraphics { fd, vt, previous })
    }
}

impl Drop for VtGraphics {
    fn drop(&mut self) {
        // SAFETY: as in `take`: plain-integer arguments on the same fd.
        unsafe {
            libc::ioctl(self.fd, KDSETMODE as _, KD_TEXT);
            if self.previous != 0 && u32::from(self.previous) != self.vt {
                libc::ioctl(self.fd, VT_ACTIVATE as _, libc::c_ulong::from(self.previous));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vt_stat_matches_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<VtStat>(), 6);
    }

    #[test]
    fn not_a_vt_changes_nothing() {
        // The test runner's standard input is a pipe, a file or a pseudo-terminal, never a VT
        // (and if it were, taking it would be wrong in a test): `take` must decline.
        if unsafe { libc::isatty(0) } == 1 {
            let mut mode: libc::c_int = 0;
            if unsafe { libc::ioctl(0, KDGETMODE as _, &mut mode as *mut libc::c_int) } == 0 {
                return;
            }
        }
        assert!(VtGraphics::take().is_none());
    }
}
