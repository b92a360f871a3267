//! Integration tests: one binary, real models, real photos, real goldens.

mod booth;
mod camera;
mod cli;
mod common;
mod csv_import;
mod doctor;
mod faults;
mod faults_camera;
mod firstrun;
mod gallery;
mod golden;
mod health;
mod input;
mod layers;
mod mender;
mod preview;
mod relatability;
mod screens;
mod soak;
mod soak_plot;
mod speed;
mod systemd;
mod usb;
