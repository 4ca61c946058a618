//! Triangle meshes from STL (binary or ASCII) and OBJ files, for imported robots' collision hulls
//! and drawn links. Parsing is `stl_io`'s and `tobj`'s; this only checks what they return.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Largest mesh file read, so a wrong path to a huge file fails fast (robot meshes are ≤ a few MB).
const MAX_MESH_BYTES: u64 = 64 << 20;
/// Vertex coordinates beyond this (in the file's units) are refused as corrupt.
const MAX_MESH_COORDINATE: f32 = 1.0e4;

/// Vertices and triangles (indices into `vertices`) in the file's own frame and units.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriangleMesh {
    pub vertices: Vec<[f32; 3]>,
    pub triangles: Vec<[u32; 3]>,
}

/// Reads an `.stl` or `.obj` file; the error says what is wrong without the path (callers add it).
pub fn read_mesh(path: &Path) -> Result<TriangleMesh, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read the mesh file: {e}"))?.len();
    if size > MAX_MESH_BYTES {
        return Err(format!("mesh file is {size} bytes; at most {MAX_MESH_BYTES} are read"));
    }
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let mesh = match extension.as_deref() {
        Some("stl") => read_stl(path)?,
        Some("obj") => read_obj(path)?,
        _ => return Err("unsupported mesh format: expected a .stl or .obj file".into()),
    };
    check(&mesh)?;
    Ok(mesh)
}

/// Meshes already read, by path, with the file's modification time and size when read.
type MeshCache = HashMap<PathBuf, (Option<SystemTime>, u64, Arc<TriangleMesh>)>;
static CACHE: Mutex<Option<MeshCache>> = Mutex::new(None);

/// [`read_mesh`], reading each file once per process while it is unchanged: a robot's meshes are
/// read by the importer, the scene loader and the studio, and envs are built many times.
pub fn read_mesh_shared(path: &Path) -> Result<Arc<TriangleMesh>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read the mesh file: {e}"))?;
    let stamp = (metadata.modified().ok(), metadata.len());
    let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let cached = |cache: &Option<MeshCache>| {
        cache.as_ref()?.get(&key).filter(|(time, len, _)| (*time, *len) == stamp).map(|(_, _, mesh)| mesh.clone())
    };
    if let Some(mesh) = cached(&CACHE.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(mesh);
    }
    let mesh = Arc::new(read_mesh(path)?);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.get_or_insert_with(HashMap::new).insert(key, (stamp.0, stamp.1, mesh.clone()));
    Ok(mesh)
}

fn read_stl(path: &Path) -> Result<TriangleMesh, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open the mesh file: {e}"))?;
    let mesh = stl_io::read_stl(&mut file).map_err(|e| format!("not a readable STL file: {e}"))?;
    let vertices = mesh.vertices.iter().map(|v| v.0).collect();
    let triangles = mesh.faces.iter().map(|f| f.vertices.map(|i| u32::try_from(i).unwrap_or(u32::MAX))).collect();
    Ok(TriangleMesh { vertices, triangles })
}

fn read_obj(path: &Path) -> Result<TriangleMesh, String> {
    let options = tobj::LoadOptions { triangulate: true, single_index: true, ..Default::default() };
    // Materials only colour the drawing; a missing .mtl must not fail the geometry.
    let (models, _materials) = tobj::load_obj(path, &options).map_err(|e| format!("not a readable OBJ file: {e}"))?;
    let mut mesh = TriangleMesh::default();
    for model in models {
        let base = mesh.vertices.len() as u32;
        mesh.vertices.extend(model.mesh.positions.chunks_exact(3).map(|p| [p[0], p[1], p[2]]));
        mesh.triangles.extend(model.mesh.indices.chunks_exact(3).map(|t| [base + t[0], base + t[1], base + t[2]]));
    }
    Ok(mesh)
}

/// Refuses meshes the physics or the renderer would choke on.
fn check(mesh: &TriangleMesh) -> Result<(), String> {
    if mesh.triangles.is_empty() {
        return Err("the mesh has no triangles".into());
    }
    if let Some(v) = mesh.vertices.iter().flatten().find(|v| !(v.is_finite() && v.abs() <= MAX_MESH_COORDINATE)) {
        return Err(format!("a vertex coordinate is {v}; expected finite values within ±{MAX_MESH_COORDINATE}"));
    }
    let count = mesh.vertices.len() as u32;
    if let Some((k, t)) = mesh.triangles.iter().enumerate().find(|(_, t)| t.iter().any(|&i| i >= count)) {
        return Err(format!("triangle {k} refers to vertex {:?} of {count}", t));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("demorl-mesh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A binary STL of one triangle whose 80-byte header starts with "solid", as many exporters
    /// (and Solo12's meshes) write it.
    fn binary_stl(vertices: [[f32; 3]; 3]) -> Vec<u8> {
        let mut bytes = b"solid exported".to_vec();
        bytes.resize(80, b' ');
        bytes.extend(1u32.to_le_bytes());
        bytes.extend([0.0f32; 3].iter().flat_map(|v| v.to_le_bytes()));
        bytes.extend(vertices.iter().flatten().flat_map(|v| v.to_le_bytes()));
        bytes.extend([0u8, 0]);
        bytes
    }

    #[test]
    fn a_binary_stl_with_a_solid_header_reads_its_triangle() {
        let path = scratch("one.stl", &binary_stl([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]));
        let mesh = read_mesh(&path).unwrap();
        assert_eq!(mesh.triangles.len(), 1);
        let mut vertices = mesh.vertices.clone();
        vertices.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(vertices, vec![[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0]]);
    }

    #[test]
    fn an_obj_square_becomes_two_triangles() {
        let path = scratch("square.obj", b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n");
        let mesh = read_mesh(&path).unwrap();
        assert_eq!(mesh.vertices.len(), 4);
        assert_eq!(mesh.triangles.len(), 2);
    }

    #[test]
    fn bad_meshes_are_refused_with_a_reason() {
        let nan = scratch("nan.stl", &binary_stl([[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]));
        assert!(read_mesh(&nan).unwrap_err().contains("finite"));
        let truncated = scratch("cut.stl", &binary_stl([[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])[..100]);
        assert!(read_mesh(&truncated).is_err());
        let empty = scratch("empty.obj", b"# nothing\n");
        assert!(read_mesh(&empty).unwrap_err().contains("no triangles"));
        assert!(read_mesh(&scratch("mesh.dae", b"<xml/>")).unwrap_err().contains(".stl or .obj"));
        assert!(read_mesh(Path::new("/nonexistent/mesh.stl")).unwrap_err().contains("cannot read"));
    }
}
