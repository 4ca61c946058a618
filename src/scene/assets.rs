//! Files a scene refers to: collision meshes are read (and checked) when the scene loads, so the
//! simulator never meets a missing or broken one; drawn meshes are only located.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::schema::{Scene, Shape};
use crate::format::Problem;
use crate::format::mesh::{TriangleMesh, read_mesh_shared};

/// The scene file's folder and its collision meshes by file name as written in the scene.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SceneAssets {
    pub folder: PathBuf,
    collision: BTreeMap<String, Arc<TriangleMesh>>,
}

impl SceneAssets {
    /// Reads every `ConvexMesh` file of `scene`, relative to `folder`; the error names the field.
    pub fn load(scene: &Scene, folder: PathBuf) -> Result<SceneAssets, Problem> {
        let mut assets = SceneAssets { folder, collision: BTreeMap::new() };
        for (i, link) in scene.robot.links.iter().enumerate() {
            let placed = link.shape.iter().map(|s| (format!("robot.links[{i}].shape"), s));
            let more =
                link.shapes.iter().enumerate().map(|(k, p)| (format!("robot.links[{i}].shapes[{k}].shape"), &p.shape));
            for (field, shape) in placed.chain(more) {
                let Shape::ConvexMesh { file, .. } = shape else { continue };
                if assets.collision.contains_key(file) {
                    continue;
                }
                let path = assets.path(file);
                let mesh = read_mesh_shared(&path).map_err(|message| {
                    Problem::new(format!("{field}.file"), format!("collision mesh {}: {message}", path.display()))
                })?;
                assets.collision.insert(file.clone(), mesh);
            }
        }
        Ok(assets)
    }

    /// Where a file named in the scene lives.
    pub fn path(&self, file: &str) -> PathBuf {
        self.folder.join(Path::new(file))
    }

    /// A collision mesh read at load time (None only for scenes built in code, not loaded).
    pub fn collision_mesh(&self, file: &str) -> Option<&Arc<TriangleMesh>> {
        self.collision.get(file)
    }
}
