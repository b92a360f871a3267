//! Integration tests: one binary, real models, real photos, real goldens.

mod booth;
mod cli;
mod common;
mod faults;
mod gallery;
mod golden;
mod layers;
mod relatability;
mod screens;
mod soak;
mod speed;
mod systemd;
mod usb;
