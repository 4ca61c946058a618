//! The `demorl-studio` binary: parses the command line and hands over to the library.

use clap::Parser;
use demorl_studio::cli::{self, Cli, Command};
use demorl_studio::config::RunMode;

fn main() -> std::process::ExitCode {
    demorl_studio::malloc_tuning::fix_malloc_thresholds();
    let cli = Cli::parse();
    let result = match &cli.command {
        None => cli::studio(cli.scene.as_deref(), None, None, 1, 1.0, RunMode::default(), None),
        Some(Command::Studio { scene, seconds, threads, speed, mode, model, settings, max_fps }) => {
            cli::studio_mode(*mode, *model).and_then(|m| {
                cli::studio(scene.as_deref(), settings.as_deref(), *seconds, *threads, *speed, m, *max_fps)
            })
        }
        Some(Command::Train(args)) => cli::train(args),
        Some(Command::Compare(args)) => cli::compare(args),
        Some(Command::Evaluate(args)) => cli::evaluate(args),
        Some(Command::Bench(args)) => cli::bench(args),
        Some(Command::Screenshot(args)) => cli::screenshot(args),
        Some(Command::Import(args)) => cli::import(args),
        Some(Command::Check { scenes }) => cli::check(scenes),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
