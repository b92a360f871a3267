//! `Size`: a width and height in pixels, written `WxH` in configs and on the command line.

use std::fmt;
use std::str::FromStr;

/// A width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const fn new(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    /// Width and height as a tuple (the form the detector and image code take).
    pub fn pair(self) -> (u32, u32) {
        (self.width, self.height)
    }
}

impl From<(u32, u32)> for Size {
    fn from((width, height): (u32, u32)) -> Size {
        Size { width, height }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// Why a text is not a `WxH` size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected WIDTHxHEIGHT, e.g. 640x480")]
pub struct BadSize(pub String);

impl FromStr for Size {
    type Err = BadSize;

    fn from_str(s: &str) -> Result<Size, BadSize> {
        let bad = || BadSize(s.to_string());
        let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| bad());
        Ok(Size { width: parse(w)?, height: parse(h)? })
    }
}

impl serde::Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!("640x480".parse(), Ok(Size::new(640, 480)));
        assert_eq!(" 240 X 320 ".trim().parse::<Size>().map(Size::pair), Ok((240, 320)));
        assert!("640".parse::<Size>().is_err());
        assert!("ax1".parse::<Size>().is_err());
        assert!("-1x5".parse::<Size>().is_err());
        assert_eq!(Size::new(1920, 1080).to_string(), "1920x1080");
    }
}
