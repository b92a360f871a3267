//! Integration tests: one binary, real models, real photos, real goldens.

mod common;
mod gallery;
mod relatability;
mod screens;
mod systemd;
mod golden;
mod booth;
mod cli;
mod usb;
