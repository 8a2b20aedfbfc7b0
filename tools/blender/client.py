"""Blender as a client of relight's exports (run with the bpy venv: .venv-blender/bin/python).

    .venv-blender/bin/python tools/blender/client.py JOB.json

JOB.json: {"model": "a.glb" | "a.obj", "envmap": "a_envmap.exr", "out": "render.exr",
           "graph": "graph.json", "c2w": 16 numbers (row-major, relight's world: +y up, OpenGL
           camera axes), "fov_y_deg": .., "width": .., "height": .., "samples": .., "rotate_z_deg": 0}

Imports the model as a user would (File > Import, default options), writes what its material
graph feeds each Principled BSDF socket (image, colour space, through which node) to "graph",
lights the world with the envmap in an Environment Texture exactly as exported, and renders
the camera with Cycles on the CPU into a linear EXR ("Standard" view, no tone mapping). The
importers turn relight's +y-up frame into Blender's +z-up one ((x, y, z) -> (x, -z, y)); the
camera goes through the same turn.
"""

import json
import math
import sys
import time

import bpy
import mathutils

SOCKETS = ("Base Color", "Roughness", "Metallic")


def feeds(tree) -> dict:
    """For each Principled socket: the image feeding it, its colour space, and the path."""
    out = {}
    for node in tree.nodes:
        if node.bl_idname != "ShaderNodeBsdfPrincipled":
            continue
        for name in SOCKETS:
            sock = node.inputs[name]
            entry = {"linked": sock.is_linked, "default": _value(sock.default_value)}
            path, cur = [], sock
            while cur.is_linked:
                link = cur.links[0]
                src = link.from_node
                path.append(f"{src.bl_idname}.{link.from_socket.name}")
                if src.bl_idname == "ShaderNodeTexImage":
                    entry.update(image=src.image.name, colorspace=src.image.colorspace_settings.name,
                                 file=bpy.path.basename(src.image.filepath))
                    break
                ins = [i for i in src.inputs if i.is_linked]
                if not ins:
                    break
                cur = ins[0]
            entry["path"] = path
            out[name] = entry
        for name in ("Specular IOR Level", "IOR"):
            out[name] = {"linked": node.inputs[name].is_linked, "default": _value(node.inputs[name].default_value)}
    return out


def _value(v):
    try:
        return [round(float(x), 5) for x in v]
    except TypeError:
        return round(float(v), 5)


def main(job_path: str) -> None:
    job = json.load(open(job_path))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    t0 = time.time()
    if job["model"].endswith(".glb"):
        bpy.ops.import_scene.gltf(filepath=job["model"])
    else:
        bpy.ops.wm.obj_import(filepath=job["model"])
    load_s = time.time() - t0
    meshes = [o for o in sc.objects if o.type == "MESH"]
    graph = {o.name: {m.name: feeds(m.node_tree) for m in o.data.materials if m and m.use_nodes} for o in meshes}

    world = bpy.data.worlds.new("relight")
    sc.world = world
    world.use_nodes = True
    nt = world.node_tree
    nt.nodes.clear()
    env = nt.nodes.new("ShaderNodeTexEnvironment")
    env.image = bpy.data.images.load(job["envmap"])
    bg, out = nt.nodes.new("ShaderNodeBackground"), nt.nodes.new("ShaderNodeOutputWorld")
    if job.get("rotate_z_deg"):
        coord, mapping = nt.nodes.new("ShaderNodeTexCoord"), nt.nodes.new("ShaderNodeMapping")
        mapping.inputs["Rotation"].default_value[2] = math.radians(job["rotate_z_deg"])
        nt.links.new(coord.outputs["Generated"], mapping.inputs["Vector"])
        nt.links.new(mapping.outputs["Vector"], env.inputs["Vector"])
    nt.links.new(env.outputs["Color"], bg.inputs["Color"])
    nt.links.new(bg.outputs["Background"], out.inputs["Surface"])

    cam_data = bpy.data.cameras.new("cam")
    cam_data.sensor_fit = "VERTICAL"
    cam_data.angle_y = math.radians(job["fov_y_deg"])
    cam = bpy.data.objects.new("cam", cam_data)
    sc.collection.objects.link(cam)
    sc.camera = cam
    yup_to_zup = mathutils.Matrix(((1, 0, 0, 0), (0, 0, -1, 0), (0, 1, 0, 0), (0, 0, 0, 1)))
    c2w = mathutils.Matrix([job["c2w"][4 * i:4 * i + 4] for i in range(4)])
    cam.matrix_world = yup_to_zup @ c2w

    sc.render.engine = "CYCLES"
    sc.cycles.device = "CPU"
    sc.cycles.samples = int(job.get("samples", 64))
    sc.cycles.use_adaptive_sampling = False
    sc.cycles.use_denoising = False
    sc.render.resolution_x, sc.render.resolution_y = int(job["width"]), int(job["height"])
    sc.render.resolution_percentage = 100
    sc.render.film_transparent = True
    sc.render.dither_intensity = 0.0
    sc.view_settings.view_transform = "Standard"
    sc.view_settings.look = "None"
    sc.view_settings.exposure, sc.view_settings.gamma = 0.0, 1.0
    sc.render.image_settings.file_format = "OPEN_EXR"
    sc.render.image_settings.color_depth = "32"
    sc.render.filepath = job["out"]
    t1 = time.time()
    bpy.ops.render.render(write_still=True)
    json.dump({"graph": graph, "load_s": load_s, "render_s": time.time() - t1, "blender": bpy.app.version_string},
              open(job["graph"], "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
