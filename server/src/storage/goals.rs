//! Goals: a project's conversion definitions (`entity::goal`). They are tenant records read and
//! written as rows; counting conversions is `analytics::goals`' work, over raw events.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use uuid::Uuid;

use entity::goal;

use super::{Db, StorageError};
use crate::domain::goal::{GoalSpec, MAX_GOALS};

/// What became of a new goal.
#[derive(Debug)]
pub enum Created {
    Goal(goal::Model),
    /// The project has a goal of that name already.
    NameTaken,
    /// The project has [`MAX_GOALS`] goals already.
    TooMany,
}

pub async fn create(db: &Db, project: Uuid, spec: &GoalSpec) -> Result<Created, StorageError> {
    let existing = goal::Entity::find()
        .filter(goal::Column::ProjectId.eq(project))
        .count(&db.primary)
        .await?;
    if existing >= MAX_GOALS {
        return Ok(Created::TooMany);
    }
    let model = goal::ActiveModel {
        project_id: Set(project),
        id: Set(Uuid::now_v7()),
        name: Set(spec.name.clone()),
        event_type: Set(spec.event_type.clone()),
        path_pattern: Set(spec.path.as_ref().map(|p| p.as_str().to_string())),
        path_regex: Set(spec.path.as_ref().map(|p| p.regex().to_string())),
        props: Set(spec.props.clone().map(serde_json::Value::Object)),
        created_at: Set(Utc::now().into()),
    };
    match model.insert(&db.primary).await {
        Ok(m) => Ok(Created::Goal(m)),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(Created::NameTaken)
        }
        Err(e) => Err(e.into()),
    }
}

/// A project's goals, oldest first.
pub async fn list(db: &Db, project: Uuid) -> Result<Vec<goal::Model>, StorageError> {
    Ok(goal::Entity::find()
        .filter(goal::Column::ProjectId.eq(project))
        .order_by_asc(goal::Column::CreatedAt)
        .order_by_asc(goal::Column::Id)
        .all(&db.primary)
        .await?)
}

/// The goal with this id, whatever its project (the caller checks it may see that project).
pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<goal::Model>, StorageError> {
    Ok(goal::Entity::find()
        .filter(goal::Column::Id.eq(id))
        .one(&db.primary)
        .await?)
}

/// Deletes a goal of a project; true when it existed.
pub async fn delete(db: &Db, project: Uuid, id: Uuid) -> Result<bool, StorageError> {
    let r = goal::Entity::delete_many()
        .filter(goal::Column::ProjectId.eq(project))
        .filter(goal::Column::Id.eq(id))
        .exec(&db.primary)
        .await?;
    Ok(r.rows_affected > 0)
}
