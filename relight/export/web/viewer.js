// relight's offline viewer: the exported GLB under its fitted envmap or a built-in one, in three.js.
// Reads viewer.json (written by relight.export.viewer). URL parameters (for tests and links):
//   env=NAME  mode=shaded|albedo|roughness|normals  rot=DEG (turns the light about +y)
//   bg=0 (black background, no envmap shown)  cam=16 numbers (camera-to-world, row-major, OpenGL axes)
//   fovy=DEG  w=PX h=PX (canvas size; default: fill the #viewer element)
// Sets window.relightReady = true after the first frame with everything loaded, window.relightStats
// = {load_ms, triangles}, or window.relightError = message.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { EXRLoader } from 'three/addons/loaders/EXRLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const t0 = performance.now();
const q = new URLSearchParams(location.search);
const host = document.getElementById('viewer');
const fail = (e) => { window.relightError = String(e && e.message || e); host.dataset.error = window.relightError; };

async function main() {
  const cfg = await (await fetch('viewer.json')).json();
  const w = +q.get('w') || host.clientWidth || 640, h = +q.get('h') || host.clientHeight || 480;
  if (q.has('w')) {  // a fixed-size canvas (tests, stills): the host fits it, no controls over it
    Object.assign(host.style, { width: `${w}px`, height: `${h}px` });
    const panel = document.getElementById('viewer-controls');
    if (panel) panel.hidden = true;
  }
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(q.has('w') ? 1 : window.devicePixelRatio);
  renderer.setSize(w, h);
  renderer.outputColorSpace = THREE.SRGBColorSpace;   // textures and lights are linear; the screen is sRGB
  renderer.toneMapping = THREE.NoToneMapping;          // relight's renders are not tone-mapped either
  host.appendChild(renderer.domElement);

  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(+q.get('fovy') || cfg.camera.fov_y_deg, w / h, 0.01, 100);
  let controls = null;  // a fixed camera (cam=) must not be re-aimed at the orbit target
  if (q.has('cam')) {
    const m = q.get('cam').split(',').map(Number);
    const c2w = new THREE.Matrix4().set(...m);
    camera.position.setFromMatrixPosition(c2w);
    camera.quaternion.setFromRotationMatrix(c2w);
  } else {
    controls = new OrbitControls(camera, renderer.domElement);
    camera.position.fromArray(cfg.camera.position);
    controls.target.fromArray(cfg.camera.target);
    controls.update();
  }

  const gltf = await new GLTFLoader().loadAsync(cfg.glb);
  scene.add(gltf.scene);
  const shaded = new Map(), views = {};
  let triangles = 0;
  gltf.scene.traverse((o) => {
    if (!o.isMesh) return;
    shaded.set(o, o.material);
    triangles += o.geometry.index ? o.geometry.index.count / 3 : o.geometry.attributes.position.count / 3;
    const m = o.material;
    views[o.uuid] = {
      albedo: new THREE.MeshBasicMaterial({ map: m.map }),
      roughness: new THREE.ShaderMaterial({  // G of glTF's metallicRoughness texture, shown as data
        uniforms: { mr: { value: m.roughnessMap } },
        vertexShader: 'varying vec2 vUv; void main() { vUv = uv; gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0); }',
        fragmentShader: 'uniform sampler2D mr; varying vec2 vUv; void main() { gl_FragColor = vec4(vec3(texture2D(mr, vUv).g), 1.0); }',
      }),
      normals: new THREE.MeshNormalMaterial(),
    };
  });

  const exr = new EXRLoader();
  const envs = {};
  async function envmap(name) {
    const e = cfg.envmaps.find((x) => x.name === name) || cfg.envmaps[0];
    if (!envs[e.name]) {
      const tex = await exr.loadAsync(e.file);
      tex.mapping = THREE.EquirectangularReflectionMapping;  // equirect, centre along +x: relight's export layout
      envs[e.name] = tex;
    }
    return envs[e.name];
  }
  const state = { env: q.get('env') || cfg.envmaps[0].name, mode: q.get('mode') || 'shaded',
                  rot: +(q.get('rot') || 0), bg: q.get('bg') !== '0' };
  async function apply() {
    const tex = await envmap(state.env);
    scene.environment = tex;
    scene.background = state.bg ? tex : new THREE.Color(0, 0, 0);
    scene.environmentRotation.set(0, THREE.MathUtils.degToRad(state.rot), 0);
    scene.backgroundRotation.copy(scene.environmentRotation);
    for (const [o, m] of shaded) o.material = state.mode === 'shaded' ? m : views[o.uuid][state.mode];
  }
  await apply();
  buildControls(cfg, state, apply);

  renderer.setAnimationLoop(() => { if (controls) controls.update(); renderer.render(scene, camera); });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  window.relightStats = { load_ms: performance.now() - t0, triangles };
  window.relightReady = true;
}

function buildControls(cfg, state, apply) {
  const panel = document.getElementById('viewer-controls');
  if (!panel || panel.hidden) return;
  const opts = (list, cur) => list.map((v) => `<option${v === cur ? ' selected' : ''}>${v}</option>`).join('');
  panel.innerHTML =
    `<label>light <select id=v-env>${opts(cfg.envmaps.map((e) => e.name), state.env)}</select></label>` +
    `<label>turn the light <input id=v-rot type=range min=-180 max=180 step=5 value=${state.rot}> <span id=v-rot-val>${state.rot}°</span></label>` +
    `<label>show <select id=v-mode>${opts(['shaded', 'albedo', 'roughness', 'normals'], state.mode)}</select></label>` +
    `<label><input id=v-bg type=checkbox${state.bg ? ' checked' : ''}> envmap as background</label>`;
  const on = (id, ev, f) => document.getElementById(id).addEventListener(ev, (e) => { f(e.target); apply().catch(fail); });
  on('v-env', 'change', (t) => { state.env = t.value; });
  on('v-mode', 'change', (t) => { state.mode = t.value; });
  on('v-bg', 'change', (t) => { state.bg = t.checked; });
  on('v-rot', 'input', (t) => { state.rot = +t.value; document.getElementById('v-rot-val').textContent = `${t.value}°`; });
}

main().catch(fail);
