//! `clubs audit history|tx|verify`: the auditor's questions, asked of the blockchain service's Postgres
//! mirror and, where the answer must come from the ledger itself, of a peer through its Gateway.

use std::process::ExitCode;

use anyhow::Context as _;
use blockchain_service::audit::{Audit, AuditError};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::tx::{Connection, gateway};

/// The blockchain service's default database (`scripts/up.sh` runs it so).
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/reciprocal";

/// Where the mirror is.
#[derive(Debug, clap::Args)]
pub struct MirrorDatabase {
    /// Postgres database the blockchain service mirrors the ledger into.
    #[arg(long, env = "CLUBS_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
}

/// Where a record's history comes from.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HistorySource {
    /// The mirror's committed writes of the key, oldest first.
    Mirror,
    /// The chaincode's `GetHistory` on the peer, newest first.
    Ledger,
}

/// Audit commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Every committed version of a record, as JSON.
    ///
    /// KEY is TYPE/ID: `club/club-alpha`, `agreement/AGREEMENT_ID`, `member/MEMBER_REF`,
    /// `visit/VISIT_ID`, `proposal/PROPOSAL_ID`, `vote/PROPOSAL_ID/CLUB_ID`, …
    History {
        #[command(flatten)]
        database: MirrorDatabase,
        #[command(flatten)]
        connection: Connection,
        /// The record, as TYPE/ID.
        key: String,
        /// Ask the mirror or the ledger.
        #[arg(long, value_enum, default_value = "mirror")]
        source: HistorySource,
    },
    /// Where a transaction is — block, position, validation code, block hash — and the hash chain from its
    /// block to the mirror's tip, as JSON.
    Tx {
        #[command(flatten)]
        database: MirrorDatabase,
        /// Channel.
        #[arg(long, env = "CLUBS_CHANNEL", default_value = "reciprocal")]
        channel: String,
        /// Transaction id.
        tx_id: String,
    },
    /// Checks that the mirror tells the truth: its hash chain, each block's orderer signatures against the
    /// channel configuration, every derived row against its block, and (unless --mirror-only) the blocks
    /// against the peer's and the projections against the chaincode. Prints the report as JSON; exits 0
    /// only when everything matches.
    Verify {
        #[command(flatten)]
        database: MirrorDatabase,
        #[command(flatten)]
        connection: Connection,
        /// Check the mirror on its own, without asking the peer.
        #[arg(long)]
        mirror_only: bool,
    },
}

async fn mirror_pool(database: &MirrorDatabase) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&database.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the mirror's database at {} (set --database-url or CLUBS_DATABASE_URL)",
                database.database_url
            )
        })?;
    let mirrored: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('mirror_checkpoint')::text")
            .fetch_one(&pool)
            .await?;
    if mirrored.is_none() {
        anyhow::bail!(
            "{} holds no mirror: the blockchain service creates it when it starts",
            database.database_url
        );
    }
    Ok(pool)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn audit_error(error: AuditError) -> anyhow::Error {
    match error {
        AuditError::BadRequest(message) | AuditError::NotFound(message) => {
            anyhow::anyhow!(message)
        }
        other => other.into(),
    }
}

/// Runs an audit command.
pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            AuditCommand::History {
                database,
                connection,
                key,
                source,
            } => {
                let Some((record_type, id)) = key.split_once('/').filter(|(_, id)| !id.is_empty())
                else {
                    anyhow::bail!("a record key is TYPE/ID (e.g. club/club-alpha), got {key:?}");
                };
                let pool = mirror_pool(&database).await?;
                match source {
                    HistorySource::Mirror => {
                        let audit = Audit::new(pool, &connection.channel, &connection.chaincode, None);
                        print_json(&audit.history(record_type, id).await.map_err(audit_error)?)?;
                    }
                    HistorySource::Ledger => {
                        let gateway = gateway(&connection).await?;
                        let audit = Audit::new(
                            pool,
                            &connection.channel,
                            &connection.chaincode,
                            Some(gateway),
                        );
                        print_json(
                            &audit
                                .ledger_history(record_type, id)
                                .await
                                .map_err(audit_error)?,
                        )?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Tx {
                database,
                channel,
                tx_id,
            } => {
                let pool = mirror_pool(&database).await?;
                let audit = Audit::new(pool, &channel, "", None);
                let proof = audit.proof(&tx_id).await.map_err(audit_error)?;
                print_json(&proof)?;
                if !proof.chain_verified {
                    eprintln!("clubs: the hash chain from block {} does not hold", proof.block_number);
                    return Ok(ExitCode::FAILURE);
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Verify {
                database,
                connection,
                mirror_only,
            } => {
                let pool = mirror_pool(&database).await?;
                let ledger = if mirror_only {
                    None
                } else {
                    Some(gateway(&connection).await?)
                };
                let audit = Audit::new(pool, &connection.channel, &connection.chaincode, ledger);
                let report = audit.verify(!mirror_only).await.map_err(audit_error)?;
                print_json(&report)?;
                eprintln!(
                    "clubs: {} blocks checked, {} orderer signatures verified, {} blocks and {} records \
                     compared with the ledger: {}",
                    report.blocks_checked,
                    report.orderer_signatures_verified,
                    report.ledger_blocks_compared,
                    report.records_compared,
                    if report.ok() {
                        "the mirror matches".to_owned()
                    } else {
                        format!("{} problems", report.problems.len())
                    }
                );
                Ok(if report.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    })
}
